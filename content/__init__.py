"""Tweetorial content: typed models, the YAML loader and validator, importers, the library."""
