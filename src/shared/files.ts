/**
 * The most a request, approval or key-backup file may weigh (ARCHITECTURE.md §5). One number for the
 * window's file picker, the IPC contract and the air-gap services; no imports, so the renderer
 * can use it without pulling in zod.
 */
export const MAX_FILE_TEXT_BYTES = 8 * 1024 * 1024;
