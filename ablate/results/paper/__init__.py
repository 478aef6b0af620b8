"""The paper's tables (Wu et al., ICCV 2021): reference numbers as data, layouts, findings, exports."""
