import { defineRules } from '../rules.ts';

// exercises/06-prefork/README.md, rule by rule.

export default defineRules([]);
