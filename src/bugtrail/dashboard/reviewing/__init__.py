"""Dashboard pages for reviewers: the review queue and the review form beside the trace timeline."""
