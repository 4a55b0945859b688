import { useEffect, useState } from 'react';
import type { ProgressEvent } from '../../../shared/ipc/contract';
import { api } from './api';

/** A fresh id for one long operation, so its progress events can be told from others'. */
export function newOperationId(): string {
  return crypto.randomUUID();
}

/**
 * The latest progress event of the operation `operationId` (null before the first one, or when
 * no operation runs). Main sends them while building, encrypting, uploading and verifying.
 */
export function useProgress(operationId: string | null): ProgressEvent | null {
  const [latest, setLatest] = useState<ProgressEvent | null>(null);
  useEffect(() => {
    setLatest(null);
    if (operationId === null) return undefined;
    return api().onProgress((event) => {
      if (event.operationId === operationId) setLatest(event);
    });
  }, [operationId]);
  return latest;
}
