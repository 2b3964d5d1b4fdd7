"""The policy engine, pure: `evaluate(request, ...) -> Verdict` decides (/validate),
`repair(request, ...) -> Repair` repairs and prices (/mutate), and `recall(pod, ...)` holds
again what a pod admitted before this replica started holds in the budget ledger."""

from costwarden.engine.contexts import Context, StaticNamespaces, StaticWorkloads
from costwarden.engine.evaluating import evaluate, recall, repair

__all__ = ["Context", "StaticNamespaces", "StaticWorkloads", "evaluate", "recall", "repair"]
