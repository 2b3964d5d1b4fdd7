.PHONY: demo check bench fmt clean

demo:  ## the main job on embedded defaults (no cluster, no Prometheus)
	scripts/demo

check:  ## every check and test (what CI runs)
	scripts/check

bench:  ## benchmarks: print figures and ratios (never part of the tests)
	NEED_PROMETHEUS=0 scripts/bootstrap
	.venv/bin/python tests/benchmarks/run.py $(BENCH)

fmt:
	.venv/bin/ruff format src tests
	.venv/bin/ruff check --fix src tests

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
