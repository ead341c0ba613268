# The rig site's project package (settings, urls, views).
