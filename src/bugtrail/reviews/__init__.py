"""Human review: reviews on the judge's rubric, the review queue with overlap, the blind rule, and feedback
to contributors (docs/review.md)."""
