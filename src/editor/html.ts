// The viewer's HTML shell: nothing from data goes in here (the title is escaped; everything else is built by the
// script with textContent). CSP `default-src 'none'`, scripts only with this page's nonce, images and styles only
// from the webview's own resource origin (localResourceRoots decide which folders that covers). No vscode import.
import { randomBytes } from 'node:crypto';
import { PROTOCOL_VERSION } from '../shared/protocol';

export function makeNonce(): string {
  return randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface WebviewHtmlParts {
  cspSource: string;   // webview.cspSource
  nonce: string;
  scriptUri: string;   // out/webview.js
  styleUri: string;    // out/webview.css
  title: string;
  /** The contract version the page is told the host speaks (default PROTOCOL_VERSION; the webview tests vary it). */
  protocolVersion?: number;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} blob: data:`,
    // The toolkit (FAST) probes :focus-visible with a <style> element it tags with the csp-nonce meta below.
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function renderWebviewHtml(p: WebviewHtmlParts): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(p.cspSource, p.nonce))}">
<meta property="csp-nonce" content="${escapeHtml(p.nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(p.styleUri)}">
<title>${escapeHtml(p.title)}</title>
</head>
<body data-protocol-version="${p.protocolVersion ?? PROTOCOL_VERSION}">
<div id="app" aria-busy="true"></div>
<script nonce="${escapeHtml(p.nonce)}" src="${escapeHtml(p.scriptUri)}"></script>
</body>
</html>`;
}
