// gbstats' error codes for comparisons it cannot make (messages.py, frequentist/tests.py). A comparison with one of
// these carries gbstats' uninformative default numbers instead of a result.
export const ZERO_NEGATIVE_VARIANCE = 'ZERO_NEGATIVE_VARIANCE';
export const ZERO_NEGATIVE_BASELINE_VARIATION = 'ZERO_NEGATIVE_BASELINE_VARIATION';
export const NUMERICAL_PVALUE_NOT_CONVERGED = 'NUMERICAL_PVALUE_NOT_CONVERGED';
export const ALPHA_GREATER_THAN_HALF_FOR_SEQUENTIAL_ONE_SIDED_TEST = 'ALPHA_GREATER_THAN_0.5_FOR_SEQUENTIAL_ONE_SIDED_TEST';

export type ComparisonErrorCode =
  | typeof ZERO_NEGATIVE_VARIANCE
  | typeof ZERO_NEGATIVE_BASELINE_VARIATION
  | typeof NUMERICAL_PVALUE_NOT_CONVERGED
  | typeof ALPHA_GREATER_THAN_HALF_FOR_SEQUENTIAL_ONE_SIDED_TEST;
