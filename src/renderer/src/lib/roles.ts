import type { Role } from '../../../shared/schemas/trust-root';

/** Roles as people say them (the trust root and the CLI spell them `signing_officer`). */
export const ROLE_LABELS: Record<Role, string> = {
  admin: 'Admin',
  release_manager: 'Release manager',
  signing_officer: 'Signing officer',
  developer: 'Developer',
  auditor: 'Auditor',
};

export function roleLabel(role: string): string {
  return (ROLE_LABELS as Record<string, string>)[role] ?? role.replace(/_/g, ' ');
}
