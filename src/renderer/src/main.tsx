import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { config as zodConfig } from 'zod';
import { App } from './App';
import { createQueryClient } from './lib/api';
import './styles.css';

// Zod compiles parsers with `new Function` when it may, and finds out by trying one: under
// index.html's `script-src 'self'` (no 'unsafe-eval') that try is refused and reported as a CSP
// violation. Jitless parsing never tries.
zodConfig({ jitless: true });

const queryClient = createQueryClient();
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </StrictMode>,
  );
}
