/**
 * The style sheet of /docs/sockets (page.ts), served as a hashed file under /docs/assets/ like
 * Swagger UI's (viewer/assets.ts): the documentation's policy allows no inline style.
 */
export const SOCKETS_PAGE_CSS = `
:root { color-scheme: light dark; --muted: #666; --line: #ccc; --code: rgba(127, 127, 127, 0.12); }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; }
header, main, nav { max-width: 72rem; margin: 0 auto; padding: 0 1.5rem; }
header { border-bottom: 1px solid var(--line); padding-bottom: 0.5rem; }
nav ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; list-style: none; padding: 0; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid var(--line); }
h3 { margin-top: 1.75rem; }
code { background: var(--code); border-radius: 3px; padding: 0 0.2em; font-size: 0.92em; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: var(--code); }
td table { margin: 0.25rem 0; }
.message { border: 1px solid var(--line); border-radius: 6px; padding: 0 1rem; margin: 0.75rem 0; }
.message h4 { margin: 0.75rem 0 0.25rem; font-size: 1.05em; }
.muted, .type { color: var(--muted); }
.required { font-weight: 600; }
`;
