# clipwsss: `make demo` sets up and runs the demo; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export PYTHONUNBUFFERED := 1

.PHONY: setup demo demo-photos test fidelity-deviations perturb toy toy-train toy-ablations run notebooks exercises lint bench toy-clip clean

# torch/torchvision are pinned to the CPU-usable builds this project is tested with.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev,notebooks]'
	touch $@

setup: $(VENV)/.installed

# Offline: CLIP-ES on the toy world with the shipped micro-CLIP (CPU, about a minute).
demo: setup
	$(PY) scripts/demo.py --out results/demo

# Real photos bundled with scikit-image, real CLIP weights (PRETRAINED=/path/ViT-B-16.pt).

demo-photos: setup
	$(PY) scripts/demo_photos.py --out results/demo $(if $(PRETRAINED),--pretrained $(PRETRAINED),)

# Unit tests, then the committed notebooks re-executed by nbval (only `# NBVAL_CHECK_OUTPUT`
# cells are compared: one verdict line each, values within a tolerance of notebooks/checks/).
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout 600 \
	--nbval-sanitize-with tests/nbval_sanitize.cfg
# Two worker processes (pytest-xdist), one file each at a time: a notebook's cells share one
# kernel, so they must stay in one worker (--dist loadfile). TEST_WORKERS=0 runs in-process.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -q -m "not deviation" -n $(TEST_WORKERS) --dist loadfile tests notebooks $(NBVAL)

# The fidelity kits re-run with one official behaviour undone at a time (a Caffe stem pool
# that rounds down, torchvision's stride placement, WeCLIP's float32 positional table): each
# must fail its kit. About 70 s; run before changing a method the kits cover. The cheaper
# "a cause put back fails" tests of CLIP-ES, WeCLIP and WeakCLIP stay in make test.
fidelity-deviations: setup
	$(PY) -m pytest -q -m deviation tests

# Every notebook as on another CPU (run before committing a notebook change): the image
# features, CAMs and CRF unaries are multiplied by 1 + 1e-6 N(0, 1) (clipwsss.perturb); every
# check must still pass. Every compared value is logged, and the largest moves relative to their
# tolerances are printed (scripts/perturb_report.py). CI runs notebook 08 this way.
PERTURB_LOG ?= /tmp/clipwsss-perturb.jsonl
perturb: setup
	rm -f $(PERTURB_LOG)
	CLIPWSSS_PERTURB=1e-6 CLIPWSSS_CHECKS_LOG=$(PERTURB_LOG) \
		$(PY) -m pytest -q -p no:cacheprovider notebooks $(NBVAL)
	$(PY) scripts/perturb_report.py $(PERTURB_LOG)

# The toy report (results/toy/summary.md, stages.csv, noise.csv: the README's numbers), then
# every committed notebook re-executed on the toy profile; the same run writes results/toy
# (executed copies + metrics JSON) and, last, the claim ledger (notebook 11) from them.
# Notebooks 12-17 read the trained toy runs of `make toy-train`.
toy: setup
	$(PY) scripts/toy_report.py --n-val 200
	$(PY) scripts/execute_notebooks.py

# The trained toy runs behind notebooks 12-17 (CPU, about 45 min on two cores):
# DeepLab CE vs CGL, WeCLIP and WeakCLIP with two training seeds each.
toy-train: setup
	$(PY) scripts/toy_deeplab.py --seeds 0 1 --iterations 300 --mu-sweep 0 0.7 0.8 0.95 0.99 --sweep-seeds 0
	$(PY) scripts/weclip_toy.py --seeds 0 1
	$(PY) scripts/weakclip_toy.py --train-seeds 0 1

# The WeCLIP and WeakCLIP ablation tables behind notebooks 14 and 16 (after `make toy-train`;
# one training run per variant, CPU, about 25 min: 11 + 12 min measured).
toy-ablations: setup
	$(PY) scripts/weclip_toy_ablations.py train --tag aff0 --set aff_weight=0
	$(PY) scripts/weclip_toy_ablations.py train --tag n0_3 --set first_block=3
	$(PY) scripts/weclip_toy_ablations.py train --tag aff1 --set aff_weight=1.0
	$(PY) scripts/weclip_toy_ablations.py train --tag afftarget_pred --set 'aff_target="prediction"'
	$(PY) scripts/weclip_toy_ablations.py report
	$(PY) scripts/weakclip_ablations.py

# One notebook on a real profile: make run NB=06_caa_vs_mhsa PROFILE=voc12 DATA=/data/VOC2012
# [WEIGHTS=/path/ViT-B-16.pt] [REFRESH=1: into the committed results/PROFILE, else outputs/]
run: setup
	$(PY) scripts/run_notebooks.py --profile $(PROFILE) --nb $(NB) $(if $(DATA),--data $(DATA),) \
		$(if $(WEIGHTS),-p pretrained $(WEIGHTS),) $(if $(REFRESH),--refresh-results,)

# Re-execute the committed notebooks in place (their stored outputs are what nbval checks).
notebooks: setup
	$(PY) scripts/execute_notebooks.py

exercises: setup  # every exercise run with its folded answer pasted in (about 10 CPU min)
	HF_HUB_OFFLINE=1 $(PY) scripts/check_exercises.py

lint: setup
	$(PY) -m ruff check lib tests scripts benchmarks
	$(PY) -m ruff format --check lib tests scripts benchmarks

# The batched-CAM table (official loop vs one-image path vs batch, CRF) first, 10-20 min
# on 2 cores; bench_cams (per-stage costs) and bench_pipeline follow.
bench: setup
	$(PY) benchmarks/bench_batch.py
	$(PY) benchmarks/bench_cams.py
	$(PY) benchmarks/bench_pipeline.py

# Retrain the micro-CLIP (CPU: see README for the time; a GPU is used when present).
TOY_CLIP := lib/clipwsss/assets/toy_clip
toy-clip: setup
	mkdir -p $(TOY_CLIP)
	$(PY) -u scripts/train_toy_clip.py --out $(TOY_CLIP) | tee $(TOY_CLIP)/train_stdout.log

clean:
	rm -rf $(VENV) .pytest_cache
