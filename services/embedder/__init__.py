"""services/embedder"""
