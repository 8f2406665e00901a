"""Meeting recordings: the control plane (start, stop, notice, consent, exclusion), the
post-processing of what Janus wrote, access to the results, and their expiry."""
