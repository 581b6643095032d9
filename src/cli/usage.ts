/** The help texts: `theory3 --help` and `theory3 <command> --help` print them on stdout. */

export const TRAIN_HELP = `usage: theory3 train --data FILE --model linear|deep-linear|relu --loss exp|logistic|squared
                     --lr ETA --steps T [options]

Trains a positively homogeneous network (no biases) and prints {"config", "backend", "records",
"weights"} as JSON.

  --data FILE          JSON {"X": number[][], "y": number[]} (labels -1/+1), IDX (MNIST family,
                       gzip or not), CSV or .npy
  --classes A,B        for IDX/CSV/.npy: keep classes A (label -1) and B (label +1)
  --n K                for IDX/CSV/.npy: the first K examples of each class, in file order
  --labels FILE        labels file (IDX: found by the MNIST naming if absent; .npy: required)
  --label-column NAME  CSV: the label column (default the last)
  --model KIND         linear (one layer) | deep-linear | relu | cnn (bias-free convolutional net
                       on images; with --image-shape H,W,C unless the data has it (IDX; "shape" in JSON),
                       --channels 8,16, --kernel 3, --pool avg|max|none, --pool-size 2,
                       --padding valid|same, --threads 1|2; any schedule)
  --depth K            weight layers = degree of homogeneity (default 2; linear has 1)
  --width H            hidden width (default 16)
  --loss KIND          exp | logistic | squared
  --reduction R        sum (default) | mean
  --schedule S         constant (plain GD, default) | flow (follows the gradient flow with growing
                       steps) | loss-based (η_t = α/L from the first step; adaptive α with undo
                       except for linear models)
  --lr ETA             step size (η₀ of the flow schedule, α of loss-based; loss-based without
                       --lr uses α = 1/max‖x‖²)
  --steps T            number of steps
  --init I             zero (linear only; its default) | gaussian (default for deeper models) | FILE
                       with {"weights": number[][][]}, layer k a matrix [out][in], input layer first
  --init-scale S       Gaussian entries N(0, S²/fan_in) (default 1)
  --seed S             seeds the init and batch streams (default 1)
  --record 1,10,...    steps to record (0 = the initial weights); the last step is always recorded
  --batch-size B       minibatch SGD, B points drawn without replacement each step
  --backend B          wasm (default) | cpu
  --out FILE           write the JSON there instead of stdout

A progress bar goes to stderr when stderr is a terminal.`;

export const SVM_HELP = `usage: theory3 svm --data FILE [--classes A,B] [--n K] [--labels FILE] [--label-column NAME] [--out FILE]

Solves the hard-margin SVM without bias, min ½‖w‖² s.t. y_n x_n·w ≥ 1, in float64 and prints
{"w", "gamma", "support", "alpha", "certificate"} as JSON.

  --data FILE          JSON {"X": number[][], "y": number[]} (labels -1/+1), IDX, CSV or .npy;
                       --classes, --n, --labels, --label-column as for train
  --out FILE           write the JSON there instead of stdout`;

export const REPLAY_HELP = `usage: theory3 replay FILE|ID [--out TRAJ.json] [--plot OUT.svg]

Re-runs a stored counterexample (.counterexamples/<property>/<id>.json, or its ID: the file is
then looked up in the store, $THEORY3_STORE or .counterexamples/) on the backend it was found
on and prints which claim it violates and by how much (exit 0; exit 1 if it no longer
reproduces).

  --out TRAJ.json      write the trajectory in the train output format
  --plot OUT.svg       plot the trajectory`;

export const VERIFY_HELP = `usage: theory3 verify [--report DIR] [--shard I/N] [--profile ci|explore|real] [vitest filters…]
       theory3 verify --merge DIR [--report OUT]
       theory3 verify --baseline FILE [--step-multiplier M]
       theory3 verify --update-baseline [--baseline FILE]

Runs every claim and its negative controls (the properties/ suite), with progress on stderr, and
writes DIR/index.html and DIR/report.json (default DIR: report). Exit 0 iff every claim holds and
every negative control fails as predicted. Environment: THEORY3_PROFILE, THEORY3_SEED,
THEORY3_RUNS, THEORY3_BACKEND, THEORY3_TIME_BUDGET (see the README).

  --report DIR         where to write the report (default report)
  --shard I/N          run shard I of N and leave its blob report and data in DIR
  --profile P          THEORY3_PROFILE for this run: ci | explore | real (adds the full
                       real-data runs on the shipped Fashion-MNIST subset, ≤ 15 minutes)
  --merge DIR          build one report from the shards' blob reports found under DIR
  --baseline FILE      re-run the fixed-seed baseline runs and compare their key figures with
                       FILE (exit 1 if any moved beyond its tolerance)
  --step-multiplier M  scale the baseline runs' step (to see the baseline catch a change)
  --update-baseline    rewrite the baseline file (default baseline/figures.json) on purpose`;

export const HELP = `usage: theory3 <command> [options]

Checks the claims of CBMM Memo 090 (Theory III) by experiment.

commands:
  train    train a homogeneous network and print its trajectory as JSON
  svm      the max-margin (hard-margin, no bias) solution of a data set
  replay   re-run a stored counterexample, say what it violates, plot it
  verify   run every claim and negative control and write the report

  theory3 <command> --help    the command's options
  theory3 --version           the version`;

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  train: TRAIN_HELP,
  svm: SVM_HELP,
  replay: REPLAY_HELP,
  verify: VERIFY_HELP,
};
