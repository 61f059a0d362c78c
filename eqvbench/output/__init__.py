"""What a run hands back: the table and CSV, figures, the `checks:` verdicts, the API's Results, the numeric fields."""
