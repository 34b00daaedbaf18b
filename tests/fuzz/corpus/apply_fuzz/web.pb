
i
web\
httpd127.0.0.1:5000/demo/busybox:1httpd"
GREETINGhi(d0ÄÄÄB	
httpê?b	
http/*task:
webweb"
memberOfzone in [a, b] 
lbtcp"ê?"(
defaultdallow
10.0.0.0/8"tcp*P