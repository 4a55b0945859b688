import { z } from 'zod/mini';

/**
 * The two kinds of key Airlock keeps (ARCHITECTURE.md §2), declared once: identity (Ed25519: signs
 * statements, approvals and server requests) and bundle (RSA-2048: Capgo encryption v2).
 */
export const KEY_TYPES = ['identity', 'bundle'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const KeyTypeSchema = z.enum(KEY_TYPES);
