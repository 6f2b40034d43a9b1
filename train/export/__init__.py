"""Export: the quantization table, conversion, the metadata writer, the source (run, .keras,
SavedModel), the job (convert, check, gate), the gate and the report."""
