"""Console strings, one catalogue per page family (merged by `siyu.web.i18n`)."""
