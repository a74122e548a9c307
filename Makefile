# Convenience targets; `bash scripts/test` is the canonical test command (needs no make).
.PHONY: test bench lint
test:
	bash scripts/test
bench:
	.venv/bin/python -m benchmarks.bench_autodiff
lint:
	.venv/bin/ruff check ddsp_ref tests benchmarks
