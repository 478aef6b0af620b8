"""The paper's tables (Wu et al., ICCV 2021): reference numbers as data, layouts, findings, exports."""


def is_paper_experiment(experiment: str | None) -> bool:
    """Whether --experiment names the paper's tables (paper or paper/<table>); answered here, without loading them."""
    return experiment is not None and (experiment == "paper" or experiment.startswith("paper/"))
