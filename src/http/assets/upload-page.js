// placeholder until the upload area exists
