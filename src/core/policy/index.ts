export { evaluatePolicy, findPolicy } from './evaluate';
export type { EvaluateOptions, PolicyContext, Verdict } from './evaluate';
export {
  policyFeasibility,
  policyFeasibilityByProposer,
  type Feasibility,
  type ProposerFeasibility,
} from './feasible';
export { approvalCountingProblem, type CountingProblem } from './counting';
