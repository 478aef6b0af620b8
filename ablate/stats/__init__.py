"""Statistics of findings: every test, interval, correction and power computation of ablate, in one place.

numpy and scipy only (scipy is imported inside the functions that need it, so a report without
comparisons never loads it); the paper's layouts, `ablate report` and `--until-resolved` all call it.

Design:
- A row over its seeds: mean and its 95% interval, t with n - 1 degrees of freedom (sample.py); the sd
  only where asked.
- Rows that share seeds are compared seed by seed (compare.py): the paired t on the per-seed contrast,
  with the mean of each side's rows at that seed, so a side pooling several rows is a contrast of row
  means (the mixed model with row fixed and seed random). Welch's test only where rows share no seed.
- A claim "a > b" resolves when the test of no difference rejects (holds, or is reversed); "a = b within
  M" holds by two one-sided tests, TOST (Schuirmann 1987): the 90% interval inside +-M; it is reversed
  only when the 95% interval lies entirely outside +-M (claims.py).
- The claims of one table (or the comparisons of one report) are a family corrected together: Holm
  (1979) by default, controlling the family-wise error; Benjamini & Hochberg (1995) as an option,
  controlling the false discovery rate (multiplicity.py).
- Adding seeds and testing again is a group-sequential design with looks declared in advance and
  Lan-DeMets (1983) O'Brien-Fleming-type alpha spending, boundaries by recursive numerical integration
  (Jennison & Turnbull, "Group Sequential Methods", 2000), made valid for t statistics at a few degrees
  of freedom by Bonferroni's inequality over the looks; a claim's sequential p-value is the smallest
  alpha at which the design would have rejected by the current look, so it composes with the
  correction (sequential.py). A table not gathered sequentially is one look: the ordinary t-test.
- Seeds needed: exact noncentral-t power of the paired test (TOST by integration over the spread), at
  the level the correction leaves one claim, planned with the one-sided 80% upper confidence bound of
  the sd; a finding holds only if all its claims do, so its power is their product. No "observed
  power", which only restates p (Hoenig & Heisey, "The Abuse of Power", 2001) (power.py).
- Only what varies between the runs is in the intervals: the seed (initialisation, data order) and, where a
  limit keeps a subset of the data, the split (data.subset=seed draws it from the seed, the default);
  Bouthillier et al., "Accounting for Variance in Machine Learning Benchmarks" (MLSys 2021), show that
  data splits move results as much as initialisation. The paper proxy's shipped runs share one fixed split.

`python -m ablate.stats.simulate` prints the simulated error rates and power of these procedures.
"""
