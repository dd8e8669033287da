"""Layer 5: what the notebooks run: profiles, ablations, sweeps, timings, figures, the claim
ledger and the paper's reference numbers."""
