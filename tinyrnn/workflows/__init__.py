"""The chapter's end-to-end workflows: sentiment classification and forecasting."""
