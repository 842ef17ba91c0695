"""The API's paste filters; etc/api-paste.ini puts them in order."""
