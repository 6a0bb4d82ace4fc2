"""Tweetorial content: typed models, the YAML loader and validator, importers and the bundled library."""
