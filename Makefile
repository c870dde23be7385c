# Two commands for a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing. torch is installed first and pinned, so that
# no other package pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export OMP_WAIT_POLICY := PASSIVE

.PHONY: demo test install clean shapes-weights

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mmvq demo --also hapt --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache

# The shape model shipped in the package (mmvq train --init bundled; the demo starts from it):
# VQShape pre-trained on HAPT's and BasicMotions' training windows, every channel a series.
shapes-weights: $(STAMP)
	mkdir -p runs && printf "warmup_steps: 50\n" > runs/shapes-weights.yaml
	$(VENV)/bin/mmvq pretrain --data hapt --data basicmotions --config runs/shapes-weights.yaml \
		--max-epochs 5 --lr 2e-3 --batch-size 32 --out runs/shapes-weights
	cp runs/shapes-weights/vqshape.safetensors src/mmvqshape/weights/vqshape-hapt-basicmotions.safetensors
