import { defineRules } from '../rules.ts';

// exercises/05-fork/README.md, rule by rule.

export default defineRules([]);
