"""Agreement between reviewers and between the judge and people, and the judge's calibration to people.

statistics.py    pure: alpha, weighted kappa, Spearman, MAE, bootstrap confidence intervals
calibration.py   pure: fit and apply a monotone (isotonic) map from judge scores to the human scale
charts.py        pure: the report as dashboard chart series
repository.py    all SQL: current reviews, judge records, calibrations (reads review, trace, qa_result)
service.py       the agreement report (flush only)
calibrations.py  fit, store and activate calibrations; a judge record with its calibrated scores
flows.py         calibration applied to new judge records and re-applied to stored ones (own scopes)
routes.py        GET /api/reviews/agreement, /api/judge/calibrations, the /dashboard/agreement page
"""
