import { defineRules } from '../rules.ts';

// exercises/07-threads/README.md, rule by rule.

export default defineRules([]);
