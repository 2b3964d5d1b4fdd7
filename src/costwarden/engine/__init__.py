"""The policy engine, pure. `evaluating.evaluate(request, ...) -> Verdict` decides
(/validate), `evaluating.repair(request, ...) -> Repair` repairs and prices (/mutate), and
`evaluating.recall(pod, ...)` says what a pod admitted before this replica started holds in
budgets. The rule kinds are plug-ins under `rules/`; the engine writes nothing: its caller
commits what a verdict holds.
"""
