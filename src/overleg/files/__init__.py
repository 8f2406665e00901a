"""Files: uploads, storage backends, the scanning pipeline, quarantine and sharing."""
