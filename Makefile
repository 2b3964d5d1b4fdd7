.PHONY: demo check bench soak soak-serve fmt clean

demo:  ## the main job on embedded defaults (no cluster, no Prometheus)
	scripts/demo

check:  ## every check and test (what CI runs)
	scripts/check

bench:  ## benchmarks: print figures and ratios (never part of the tests)
	NEED_PROMETHEUS=0 NEED_CHROMIUM=0 scripts/bootstrap
	.venv/bin/python tests/benchmarks/run.py $(BENCH)

soak:  ## the fuzz of mutated captured reviews at 10,000 cases (make check runs 1,000)
	COSTWARDEN_FUZZ_EXAMPLES=10000 .venv/bin/pytest -q -p no:cacheprovider tests/security/test_fuzz_reviews.py

soak-serve:  ## costwarden serve for 10 minutes under 64 clients with reset and stalled connections (a benchmark: prints figures)
	NEED_PROMETHEUS=0 NEED_CHROMIUM=0 scripts/bootstrap
	.venv/bin/python tests/benchmarks/run.py soak

fmt:
	.venv/bin/ruff format src tests
	.venv/bin/ruff check --fix src tests

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
