import { Ajv } from 'ajv';
import schema from '../../schema/result.schema.json' with { type: 'json' };
import type { RunResult } from './model.ts';

const validate = new Ajv({ allErrors: true, allowUnionTypes: true, validateFormats: false }).compile<RunResult>(schema);

/** The result model is checked before anything is written: a mismatch is a grader bug. */
export function assertValidResult(result: unknown): asserts result is RunResult {
  if (!validate(result)) {
    const errs = validate.errors!.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new Error(`internal error: the result does not match grader/schema/result.schema.json: ${errs}`);
  }
}
