import { defineRules } from '../rules.ts';

// exercises/08-event-loop/README.md, rule by rule.

export default defineRules([]);
