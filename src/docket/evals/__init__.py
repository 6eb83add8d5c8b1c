"""Evaluation: test sets (:mod:`~docket.evals.datasets`), metrics (:mod:`~docket.evals.metrics`), the runner
and regression gate behind ``docket eval run`` (:mod:`~docket.evals.runner`), and test sets drafted from
the user's own documents (:mod:`~docket.evals.generate`). See docs/evals.md.
"""
