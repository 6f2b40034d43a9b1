PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A second, device-like environment: tflite-runtime 2.14 with numpy<2 and opencv<4.12, as on many Pis.
TFLRT := .venv-tflrt
TFLRT_STAMP := $(TFLRT)/.installed
# The edge tests that run again on tflite-runtime (tests needing TensorFlow skip themselves there).
EDGE_TESTS := tests/test_quant_preprocess.py tests/test_results_metadata.py tests/test_classify_assets.py \
	tests/test_sources.py tests/test_edge_isolation.py tests/test_cli.py tests/test_layouts.py \
	tests/test_detect_assets.py tests/test_bench.py tests/test_pose_segment.py tests/test_track_run.py \
	tests/test_class_argmax.py tests/test_pipeline.py

.PHONY: venvs demo test lint format clean venv venv-tflrt mobilenet-table overhead pipeline-bench system-deps \
	bench-table bench-honesty pi-check python-versions demo-detect detect-speed

# Real peers for the tests, from Debian: a mosquitto broker and headless Chromium (live outputs), an
# OpenSSH server and rsync (deploy), Xvfb and xdotool (the --show window; the GUI OpenCV needs libGL
# and GLib). Each entry is package:command, or package:/path for a library.
SYSTEM_DEPS := mosquitto:mosquitto chromium:chromium openssh-server:sshd rsync:rsync openssh-client:ssh \
	xvfb:Xvfb xdotool:xdotool libgl1:/usr/lib/$(shell uname -m)-linux-gnu/libGL.so.1 \
	libglib2.0-0:/usr/lib/$(shell uname -m)-linux-gnu/libglib-2.0.so.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# install(VENV, REQUIREMENTS): with uv (faster than pip: it unpacks in parallel), or with pip when uv
# fails; both resolve the same versions from the same index. Bytecode is not compiled at install time:
# compiling all 11,500 files of both environments took 45 s on this machine's two cores, and Python
# compiles the modules a process imports, once, on first import (PYTHONDONTWRITEBYTECODE is unexported
# below, so that holds in any shell).
unexport PYTHONDONTWRITEBYTECODE
MAIN_REQUIREMENTS := -e '.[train,laptop,dev]'
TFLRT_REQUIREMENTS := -e '.[tflite-runtime]' 'pytest>=8' 'pytest-xdist>=3.5'
install = $(1)/bin/python -m pip install --quiet --upgrade pip uv && \
	$(1)/bin/uv pip install --quiet --python $(1)/bin/python $(2) || \
	$(1)/bin/python -m pip install --quiet $(2)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(call install,$(VENV),$(MAIN_REQUIREMENTS))
	touch $(STAMP)

$(TFLRT_STAMP): pyproject.toml
	$(PYTHON) -m venv $(TFLRT)
	$(call install,$(TFLRT),$(TFLRT_REQUIREMENTS))
	touch $(TFLRT_STAMP)

venv: $(STAMP)

venv-tflrt: $(TFLRT_STAMP)

demo: $(STAMP)
	$(VENV)/bin/edgesight demo --out runs/demo

system-deps:
	@missing=""; for entry in $(SYSTEM_DEPS); do pkg=$${entry%%:*}; cmd=$${entry#*:}; \
	  command -v $$cmd >/dev/null || [ -x /usr/sbin/$$cmd ] || [ -e "$$cmd" ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing with apt-get"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing >/dev/null; fi

# Static checks: ruff (lint and format), no import cycle among the project's modules (imports inside
# functions included), no file in edge/ or train/ over 400 lines and no function over 80, and the edge
# half within Python 3.9 (vermin for the language and standard library, check_py39 for unions of types
# evaluated at run time).
LINT = $(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(PY) tools/check_imports.py && \
	$(PY) tools/check_size.py && $(VENV)/bin/vermin -q -t=3.9- --violations --eval-annotations --no-tips edge/ \
	&& $(PY) tools/check_py39.py

# Both environments are made at once: pip spends most of its time waiting on downloads.
venvs:
	@$(MAKE) --no-print-directory -j2 $(STAMP) $(TFLRT_STAMP)

# Two workers on two cores: each TensorFlow process computes on one thread (two trainings at once took
# 131 s against 138 s with TensorFlow's default of a thread per core).
test: venvs system-deps
	$(LINT)
	EDGESIGHT_REQUIRE_ASSETS=1 EDGESIGHT_EXPECT_RUNTIME=tflite-runtime $(TFLRT)/bin/python -m pytest -q \
	  -p no:cacheprovider -n 2 --dist loadfile -m "not serial and not one_runtime" --durations=5 $(EDGE_TESTS)
	EDGESIGHT_REQUIRE_ASSETS=1 EDGESIGHT_EXPECT_RUNTIME=tflite-runtime $(TFLRT)/bin/python -m pytest -q \
	  -p no:cacheprovider -m "serial and not one_runtime" $(EDGE_TESTS)
	EDGESIGHT_REQUIRE_ASSETS=1 EDGESIGHT_EXPECT_RUNTIME=litert EDGESIGHT_TFLRT_PYTHON=$(abspath $(TFLRT))/bin/python \
	  TF_NUM_INTRAOP_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile -m "not serial" \
	  --durations=15
	EDGESIGHT_REQUIRE_ASSETS=1 EDGESIGHT_EXPECT_RUNTIME=litert EDGESIGHT_TFLRT_PYTHON=$(abspath $(TFLRT))/bin/python \
	  $(PY) -m pytest -q -p no:cacheprovider -m serial --durations=5

# The README's table of export modes: MobileNetV2 (alpha 0.35, 96 px) trained on the built-in data,
# exported in every mode, each variant measured on ai-edge-litert and on tflite-runtime 2.14.
# export exits 1 when the gate refuses a variant: the table shows it; exit 2 (an error) stops here.
MNV2 := runs/mnv2
mobilenet-table: $(STAMP) $(TFLRT_STAMP)
	$(VENV)/bin/edgesight train shapes --out $(MNV2) --model mobilenet_v2 --weights none --size 96 --epochs 20
	$(VENV)/bin/edgesight export $(MNV2) --quant all || test $$? -eq 1
	$(PY) tools/runtime_table.py $(MNV2)/models --python $(PY) --python $(TFLRT)/bin/python

# Issue 4's speed target: edge's work around invoke() for one 640x480 frame, on the asset models and
# on 640 px, 80-class YOLO heads in every mode (built first: no YOLO weights can be downloaded here).
YOLO_HEADS := runs/yolo-heads
overhead: $(STAMP)
	test -f $(YOLO_HEADS)/yolov8_640_int8-int8io.tflite || $(PY) tools/yolo_heads.py $(YOLO_HEADS) --layout yolov8
	test -f $(YOLO_HEADS)/yolov5_640_int8-int8io.tflite || $(PY) tools/yolo_heads.py $(YOLO_HEADS) --layout yolov5
	test -f $(YOLO_HEADS)/yolov8_seg_640_int8-int8io.tflite || \
	  $(PY) tools/yolo_heads.py $(YOLO_HEADS) --layout yolov8_seg --modes float32,int8-int8io
	$(PY) tools/task_overhead.py

# Issue 5's targets: the pipeline against the examples' sequential loop (throughput on a file and on
# the synthetic source), frame age in latest-frame mode, and RSS growth over a 10-minute run.
pipeline-bench: $(STAMP)
	$(PY) tools/pipeline_bench.py

# Issue 6: the README's bench table. The demo's two models and the SSD asset model, 1 and 2 threads, on
# ai-edge-litert (XNNPACK on and off) and on tflite-runtime 2.14; the SSD pipeline on the traffic clip;
# then one comparison of the two records, with its plot (runs/bench/compare.png and .html).
BENCH := runs/bench
SSD := ../shared/assets/models/detection/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_no_metadata.tflite
BENCH_MODELS := runs/demo/models/model_float32.tflite runs/demo/models/model_int8.tflite $(SSD)
bench-table: $(STAMP) $(TFLRT_STAMP)
	test -f runs/demo/models/model_int8.tflite || $(VENV)/bin/edgesight demo --out runs/demo
	$(VENV)/bin/edgesight bench $(BENCH_MODELS) --threads 1,2 --xnnpack both --runs 200 \
	  --name litert --json $(BENCH)/litert.json
	$(TFLRT)/bin/edgesight bench $(BENCH_MODELS) --threads 1,2 --runs 200 --name tflite-runtime \
	  --json $(BENCH)/tflite-runtime.json
	$(VENV)/bin/edgesight bench $(SSD) --labels ../shared/assets/models/detection/labelmap.txt \
	  --source ../shared/assets/video/traffic_frames.mp4 --draw --runs 200 --json $(BENCH)/ssd-pipeline.json
	$(VENV)/bin/edgesight bench --compare $(BENCH)/litert.json $(BENCH)/tflite-runtime.json \
	  --plot $(BENCH)/compare

# Issue 6's honesty target: edgesight bench's p50 against a bare interpreter loop, within 5%.
bench-honesty: $(STAMP)
	$(PY) tools/bench_honesty.py --check

# Issue 7: an emulated Raspberry Pi 4 (Debian 12 arm64 under qemu-user-static, Cortex-A72, the Pi's
# cpuinfo). Needs root; not part of `make test`. Deploys the demo's int8 model with edgesight deploy
# (ai-edge-litert, then tflite-runtime 2.14) over SSH and compares its results with this machine's.
PI_PACKAGES := qemu-user-static binfmt-support debootstrap
pi-check: $(STAMP) $(TFLRT_STAMP) system-deps
	@[ "$$(id -u)" = 0 ] || { echo "pi-check needs root (debootstrap, chroot, mount): sudo make pi-check"; exit 2; }
	command -v debootstrap >/dev/null && [ -x /usr/bin/qemu-aarch64-static ] || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PI_PACKAGES) >/dev/null; }
	test -f runs/demo/models/model_int8.tflite || $(VENV)/bin/edgesight demo --out runs/demo
	$(PY) tools/pi_check.py

# Issue 14: the edge tests under Python 3.9, 3.11 and 3.13 on Debian 11, 12 and 13 root filesystems (amd64,
# debootstrap, chroot; needs root). Not part of make test: it builds three root filesystems.
python-versions: $(STAMP)
	@[ "$$(id -u)" = 0 ] || { echo "python-versions needs root (debootstrap, chroot, mount)"; exit 2; }
	command -v debootstrap >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
	$(PY) tools/py_chroots.py

# Issue 16: the detection demo (data, training, export, mAP through edge, live run, report; exit 1 when a
# target is missed), and our int8 detector's invoke p50 against SSD MobileNet v1's.
demo-detect: $(STAMP)
	$(VENV)/bin/edgesight demo --task detect --out runs/demo-detect

detect-speed: $(STAMP)
	test -f runs/demo-detect/models/model_int8.tflite || $(VENV)/bin/edgesight demo --task detect --out runs/demo-detect
	$(PY) tools/detect_speed.py runs/demo-detect/models/model_int8.tflite

lint: $(STAMP)
	$(LINT)

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(TFLRT) .venv-mediapipe runs .pytest_cache
