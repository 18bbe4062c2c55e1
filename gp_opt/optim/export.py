def export_torch(genome, path=None, name=None):
    raise NotImplementedError
