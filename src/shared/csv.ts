/**
 * CSV as RFC 4180 writes it: fields separated by commas, records by CRLF, a field quoted when it
 * holds a comma, quote, CR or LF, its quotes doubled. A field that a spreadsheet would read as a
 * formula (starting with =, +, -, @, tab or CR) is prefixed with an apostrophe: audit details
 * carry text others chose (app names, notes), and an exported log must not run it (OWASP, "CSV
 * Injection").
 */
export function toCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
