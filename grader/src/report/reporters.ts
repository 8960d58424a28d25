import type { RunResult } from './model.ts';
import { renderTerminal } from './terminal.ts';

export interface RenderContext {
  color: boolean;
  verbose: boolean;
}

// Reporters by name: pure functions from the result model to text.
export const REPORTERS = {
  terminal: (r: RunResult, ctx: RenderContext) => renderTerminal(r, ctx),
  json: (r: RunResult) => `${JSON.stringify(r, null, 2)}\n`,
} satisfies Record<string, (r: RunResult, ctx: RenderContext) => string>;

export type ReporterName = keyof typeof REPORTERS;
