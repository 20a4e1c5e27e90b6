#!/usr/bin/env bash
# Scores the leak verdict on the labelled synthetic corpus (tests/leak_corpus.rs):
# verdicts per pattern with an example miss, the confusion matrix, recall,
# false-positive rate and the median detection delay for 1 MiB/min on 200 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --locked -q --test leak_corpus -- --nocapture 2>&1 | grep -vE '^(running|test |\.*$)'
