"""Green Shield (绿盾): streaming compliance pipeline for express-parcel safety."""

__version__ = "0.1.0"
