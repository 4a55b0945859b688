export { evaluatePolicy, findPolicy } from './evaluate';
export type { EvaluateOptions, PolicyContext, Verdict } from './evaluate';
