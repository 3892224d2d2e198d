"""Server-side template injection payloads, gathered from public SSTI cheat sheets and the hardening issue.

Used by test_hostile_templates.py: every one must be refused when saved or rendered and leak nothing.
"""

CLASSIC_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[2].__subclasses__()[40]('/etc/passwd').read() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ {}.__class__.__base__.__subclasses__() }}",
    "{{ x.__class__.__init__.__globals__ }}",
    "{{ x.__init__.__globals__['__builtins__']['eval']('1+1') }}",
    "{{ x.__class__.__dict__ }}",
    "{{ x.__doc__ }}",
    "{{ x.__len__() }}",
    "{{ x.__getattribute__('__class__') }}",
    "{{ x.split.__self__ }}",
    "{% with a = x %}{{ a.__class__ }}{% endwith %}",
    "{% filter upper %}{{ x.__class__ }}{% endfilter %}",
    "{% set n = namespace(v=x) %}{{ n.v.__class__ }}",
    "{% set n = namespace() %}{% set n.__class__ = 1 %}{{ n }}",
]
GADGETS = [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.environ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ lipsum.__globals__.__builtins__.__import__('os').environ }}",
    "{{ range.__globals__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.environment.globals }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "{{ config.__class__.__init__.__globals__['os'].environ }}",
    "{{ config.items() }}",
    "{{ settings.SECRET_KEY }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ url_for.__globals__.os.environ }}",
    "{{ self }}",
    "{{ cycler }}",
    "{{ joiner() }}",
    "{{ namespace }}",
    "{{ lipsum }}",
    "{{ range }}",
    "{{ dict }}",
    "{{ dict(a=1).items() }}",
    "{{ x.format_map }}",
    "{{ x.encode('idna') }}",
    "{{ range(3)|map('string') }}",
    "{{ caller() }}",
    "{{ super() }}",
]
FILTER_TRICKS = [
    "{{ ''|attr('__class__') }}",
    "{{ x|attr('__init__')|attr('__globals__') }}",
    "{{ ''|attr('_'*2 ~ 'class' ~ '_'*2) }}",
    "{{ x|attr(['_','_class_','_']|join) }}",
    "{{ x|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ x['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "{{ x['\\u005f\\u005fclass\\u005f\\u005f'] }}",
    "{% set c = '__cla' ~ 'ss__' %}{{ x|attr(c) }}",
    "{% set c = '__cla' ~ 'ss__' %}{{ x[c] }}",
    "{% set c = ('%c%c' % (95, 95)) ~ 'class' ~ ('%c%c' % (95, 95)) %}{{ x|attr(c) }}",
    "{{ x|attr(dict(__class__=1)|list|first) }}",
    "{{ [x]|map(attribute='__class__')|list }}",
    "{{ [x]|selectattr('__class__')|list }}",
    "{{ [x]|sum(attribute='__class__') }}",
    "{{ [x]|map('attr', '__class__')|list }}",
    "{{ x|xmlattr }}",
]
FORMAT_ESCAPES = [
    "{{ '{0.__class__.__mro__}'.format(x) }}",
    "{{ '{0[__class__]}'.format(x) }}",
    "{{ '{0.__class__}'.format('x') }}",
    "{{ '{x.__class__}'.format_map({'x': x}) }}",
    "{{ 'abc'.format.__globals__ }}",
    "{{ '%s'|format(x.__class__) }}",
    "{{ '%(a)s'|format(a=x.__init__) }}",
]
MUTATIONS = [
    "{% set l = [] %}{{ l.append(1) }}",
    "{{ {}.update(a=1) }}",
    "{% set d = {} %}{{ d.setdefault('a', 1) }}",
    "{{ x.__setattr__('a', 1) }}",
]
EXHAUSTION = [
    "{{ 'a' * 100000000 }}",
    "{{ [1] * 100000000 }}",
    "{{ range(1000000000)|list }}",
    "{{ 999999999 ** 999999999 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in range(1000) %}{% for b in range(1000) %}{{ b }}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{{ 'x' * 900000 }}{% endfor %}",
    "{% set a = 'x' * 900000 %}{% set b = a ~ a ~ a ~ a %}{{ (b ~ b ~ b ~ b)|length }}",
    "{% set n = namespace(s='xx') %}{% for i in range(64) %}{% set n.s = n.s ~ n.s %}{% endfor %}{{ n.s|length }}",
    "{% set n = namespace(s='xx') %}{% for i in range(64) %}{% set n.s = n.s + n.s %}{% endfor %}{{ n.s|length }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '%.999999999f' % 1 }}",
    "{{ '%999999999s'|format('x') }}",
    "{{ '{:>999999999}'.format('x') }}",
    "{{ 'x'|center(999999999) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ 'x'.zfill(999999999) }}",
    "{{ 'x\\ty'.expandtabs(999999999) }}",
    "{{ 'a b'|indent(999999999) }}",
    "{{ ('x' * 900000)|replace('x', 'yyyyyyyyyy') }}",
    "{{ 'ab'.replace('', 'x' * 900000) }}",
    "{{ range(100000)|join(',' * 900000) }}",
    "{{ range(99999)|map('string')|map('center', 99999)|join|length }}",
    "{{ lipsum(999999999) }}",
    "{{ 10 // 0 }}",
]
RECURSION = [
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% macro f(n) %}{% for i in range(1000) %}{{ f(n) }}{% endfor %}{% endmacro %}{{ f(1) }}",
    "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
    "{% for i in [1] recursive %}{{ loop([i]) }}{% endfor %}",
    "{% macro f() %}{% call f() %}x{% endcall %}{{ caller() }}{% endmacro %}{% call f() %}y{% endcall %}",
]
NO_LOADER = [
    "{% include 'x.html' %}",
    "{% include '/etc/passwd' %}",
    "{% include '../../config/settings.py' %}",
    "{% import 'os' as os %}{{ os.environ }}",
    "{% from 'config/settings.py' import SECRET_KEY %}{{ SECRET_KEY }}",
    "{% extends '/etc/passwd' %}",
    "{% extends 'admin/base.html' %}",
]
OTHER_ENGINES = [
    "{% load os %}",  # Django
    "{% debug %}",  # Django
    "{% csrf_token %}",  # Django
    "{{= 7*7 }}",  # doT
    "{% do x.append(1) %}",  # Jinja2 extension that is not enabled
    "{% for %}",
    "{{ x",
    "{% endfor %}",
]
PAYLOADS = (
    CLASSIC_ESCAPES + GADGETS + FILTER_TRICKS + FORMAT_ESCAPES + MUTATIONS + EXHAUSTION + RECURSION + NO_LOADER
    + OTHER_ENGINES
)
# Syntaxes of other template engines that mean nothing to Jinja2: sent to the LLM as they are.
LITERAL_TEXT = [
    "${7*7}",  # Mako, FreeMarker, JSP EL
    "<%= 7*7 %>",  # ERB
    "#{7*7}",  # Ruby, Thymeleaf
    "*{7*7}",  # Thymeleaf
    "@(7*7)",  # Razor
    "{7*7}",  # Smarty, Python str.format
    "{php}echo 1;{/php}",  # Smarty
    "[% 7*7 %]",  # Template Toolkit
    "<#assign ex='freemarker.template.utility.Execute'?new()>${ex('id')}",  # FreeMarker
    "{% raw %}{{ ''.__class__ }}{% endraw %}",  # Jinja2's own escape hatch for literal braces
]
