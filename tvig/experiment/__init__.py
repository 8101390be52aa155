"""The paper's experiment as resumable units (DESIGN §5).

A *run* is (dataset, class, k, seed); its units form a DAG
``shots -> prompt -> generated (from exactly those shots) -> detect(model, train set)``.
:mod:`~tvig.experiment.spec` (what to run), :mod:`~tvig.experiment.units` (the plan),
:mod:`~tvig.experiment.fingerprint` (folder names), :mod:`~tvig.experiment.work` (one unit),
:mod:`~tvig.experiment.executors` (serial / Ray), :mod:`~tvig.experiment.results` (the table
from unit folders), :mod:`~tvig.experiment.report` (the paper's layout, gains, figures).

Example:
    >>> from tvig.experiment import ExperimentSpec, plan, run_units, write_results
    >>> spec = ExperimentSpec.from_mapping({"categories": ["brick"], "profile": "tiny"})
    >>> units = plan(spec, "runs/exp")                      # doctest: +SKIP
    >>> run_units(units, "runs/exp"); write_results(units, "runs/exp")   # doctest: +SKIP
"""

from tvig.experiment.executors import Resources, run_units
from tvig.experiment.results import collect_rows, status, write_results
from tvig.experiment.spec import ExperimentSpec
from tvig.experiment.units import Unit, plan

__all__ = ["ExperimentSpec", "Unit", "plan", "run_units", "Resources", "collect_rows",
           "write_results", "status"]
