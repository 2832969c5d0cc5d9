"""How the email severity rules do on the labelled corpus (issue 16): the confusion matrix of
the final outcome and the two rates that matter. Nothing is asserted here; the suite holds every
item to its label (tests/unit/test_severity_corpus.py).

    python benchmarks/severity_corpus.py [--misses]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.severity_corpus import (  # noqa: E402
    OUTCOMES,
    acceptable,
    figures,
    judge,
    load_corpus,
)


def main(argv: list[str]) -> int:
    corpus = load_corpus()
    started = time.perf_counter()
    results = [(mail, *judge(mail)) for mail in corpus]
    elapsed = time.perf_counter() - started
    stats = figures([(mail, result) for mail, result, _reason in results])
    critical = sum(m.critical for m in corpus)
    print(
        f"{len(corpus)} labelled emails ({critical} critical, {len(corpus) - critical} not), "
        f"{elapsed * 1000 / len(corpus):.2f} ms each"
    )
    width = max(len(o) for o in OUTCOMES)
    print(f"\n{'label':<14}" + "".join(f"{o:>{width + 2}}" for o in OUTCOMES))
    for label, name in ((True, "critical"), (False, "not critical")):
        row = stats.matrix[label]
        print(f"{name:<14}" + "".join(f"{row[o]:>{width + 2}}" for o in OUTCOMES))
    print(
        f"\ncritical mail that ends up paged, the customer answering the question: "
        f"{stats.critical_paged(answered=True):.1%} (target 100%)"
    )
    print(
        f"critical mail that ends up paged, nobody answering (the timeout rule):  "
        f"{stats.critical_paged(answered=False):.1%}"
    )
    print(
        f"non-critical mail paged without the customer choosing it:              "
        f"{stats.non_critical_paged():.1%} (target 0%)"
    )
    misses = [(m, r, why) for m, r, why in results if not acceptable(m, r)]
    print(f"\nitems off their label: {len(misses)}")
    if "--misses" in argv:
        for mail, result, why in misses:
            label = "critical" if mail.critical else "not critical"
            print(f"  {mail.id}: {label}, expected {mail.expect or '-'}, got {result} ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
