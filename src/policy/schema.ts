// The policy file schema lives in language.ts; this module keeps the v1 import path working.
export { Approvers, Match, PolicyFile, type PolicyFileT, Rule, type RuleT } from './language.js';
