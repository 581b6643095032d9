/**
 * The claims of docs/THEORY.md as the report states them, and which figure is each claim's key
 * figure in the summary (the first figure whose name contains `key`; a claim without one shows
 * its first figure). A new claim needs only an entry here; its tests, figures and plots come from
 * the data its properties write.
 */
export const CLAIMS: Record<string, { title: string; statement: string; key?: string }> = {
  C1: {
    title: 'Exact balance identities',
    statement: 'One GD step changes the layer imbalance ‖W_k‖² − ‖W_{k+1}‖², and every hidden neuron’s ‖w_in‖² − ‖w_out‖², by exactly η²(‖G_k‖² − ‖G_{k+1}‖²), for any loss.',
    key: 'share of checks',
  },
  C2: {
    title: 'Balanced growth',
    statement: 'Once the data are fitted every layer norm grows, ρ_k² − ρ_j² is conserved up to the η² drift, so ρ_k/ρ_j → 1.',
    key: 'ρ_max/ρ_min',
  },
  C3: {
    title: 'ρ grows like log t',
    statement: 'Once L < 1, L = Θ(1/(t (log t)^{2−2/K})) and ρ = Θ(log t); for a linear model w(t) = ŵ log t + r(t), r bounded.',
    key: 'late slope of −log L',
  },
  C4: {
    title: 'Monotone margin',
    statement: 'Once L < 1 the smoothed margin −log L/‖θ‖^K (and −log L/∏ρ_k) never decreases.',
    key: 'smallest relative step change',
  },
  C5: {
    title: 'Convergence to the max-margin direction',
    statement: 'The normalized weights approach the minimum-norm (max-margin) solution: the SVM for linear and deep linear models, a KKT point for ReLU nets.',
    key: 'final angle',
  },
  C6: {
    title: 'SGD and weight normalization',
    statement: 'SGD with a small step also converges in direction to the SVM; weight normalization has the same dynamics of the scale and the same stationary points.',
    key: 'final angle',
  },
  C7: {
    title: 'The generalization gap shrinks with N',
    statement: 'The expected-minus-empirical loss of the normalized network goes to zero as the number of examples N grows, like 1/√N.',
    key: 'mean loss-gap difference',
  },
  R: {
    title: 'The claims on real data (Fashion-MNIST)',
    statement: 'On Fashion-MNIST class pairs: the linear model’s ‖w‖ grows with slope 1/γ* in log t and turns to the exact SVM (C3, C5); a ReLU MLP and a bias-free CNN trained past fitting with loss-based steps keep the per-unit balance identities (C1), balance their layers (C2), grow ρ at most like log t (C3), keep the smoothed margin monotone up to the step’s second-order allowance (C4) and approach a KKT point: the softmax weights concentrate on the minimum-margin images (C5). The normalized MLP’s margins stay in [−1, 1] on unit-norm images and its gap stays under the Rademacher bound, its decrease with N reported with intervals (C7); across label corruption its normalized test loss is close to a linear function of its normalized train loss (Memo 091).',
    key: 'final angle',
  },
};
